"""Stand-in for Splunk's private ``splunk.clilib`` (only ``bundle_paths``)."""

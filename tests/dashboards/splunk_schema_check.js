// Validates Dashboard Studio definitions with Splunk's published schemas (npm packages
// @splunk/dashboard-definition and @splunk/visualization-schemas, resolved through NODE_PATH).
// Usage: node splunk_schema_check.js DEFINITION.json...   Prints one JSON report per file:
// {"file": ..., "errors": [...]} and exits 1 when any file has errors.
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const definition = require('@splunk/dashboard-definition');
const vizSchemas = require('@splunk/visualization-schemas');

// Dashboard Studio visualization type -> the options schema published for it.
const VIZ_OPTIONS = {
  'splunk.table': 'tableOptionsSchema',
  'splunk.singlevalue': 'singleValueOptionsSchema',
  'splunk.column': 'columnOptionsSchema',
  'splunk.bar': 'barOptionsSchema',
  'splunk.line': 'lineOptionsSchema',
  'splunk.area': 'areaOptionsSchema',
  'splunk.pie': 'pieOptionsSchema',
  'splunk.map': 'mapOptionsSchema',
  'splunk.markdown': 'markdownOptionsSchema',
};

const ajv = new Ajv({ allErrors: true, strict: false });
const validateDashboard = ajv.compile(definition.defaultSchema);
const optionValidators = {};
for (const [type, name] of Object.entries(VIZ_OPTIONS)) {
  // Unknown options are reported (additionalProperties false): Splunk ignores them silently,
  // so a misspelt option would otherwise never show.
  optionValidators[type] = ajv.compile({
    type: 'object', properties: vizSchemas[name], additionalProperties: false,
  });
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const def = JSON.parse(fs.readFileSync(file, 'utf8'));
  const errors = [];
  if (!validateDashboard(def)) {
    for (const e of validateDashboard.errors) errors.push(`${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
  }
  for (const [id, viz] of Object.entries(def.visualizations || {})) {
    const check = optionValidators[viz.type];
    if (!check) {
      errors.push(`/visualizations/${id} type ${viz.type} has no published options schema known to this check`);
      continue;
    }
    if (!check(viz.options || {})) {
      for (const e of check.errors) errors.push(`/visualizations/${id}/options${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    }
  }
  if (errors.length) failed = true;
  process.stdout.write(JSON.stringify({ file, errors }) + '\n');
}
process.exit(failed ? 1 : 0);

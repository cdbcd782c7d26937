'use strict';
// The trace types the twin's dashboards draw, and nothing else (scatter is part of core).
// Adding a trace type to a dashboard means adding it here and rebuilding (README.md).
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/scattergl'),
]);

module.exports = Plotly;

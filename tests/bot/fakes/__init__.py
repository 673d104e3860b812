"""Tests of the Slack sandbox: workspace, Web API server, payload builders and driver."""

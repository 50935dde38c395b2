"""Components that configure machines directly: AnsibleRun over SSH."""

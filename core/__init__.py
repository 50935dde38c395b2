"""gpu-fleet's pure core: what the program, the policy pack and the CLI must agree on.

No Pulumi here (a test enforces it): the spec and its loader, the facts, the names the fleet
stamps, principals, the fleet plan, compatibility, capacity, cost, the tenancy model, node boot
rendering, bundle hashing and template loading.
"""

"""The Ansible content nodes run at boot, shipped as package data (see core.assets).

Not part of the playbook bundle: core.bundle leaves Python files out of it.
"""

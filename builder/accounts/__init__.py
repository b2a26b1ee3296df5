"""Users, workspaces, roles, invitations and API keys; who may do what."""

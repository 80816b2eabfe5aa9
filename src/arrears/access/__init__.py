"""Access: users, roles, the permission matrix, credentials, and which accounts a user may see.

* :mod:`arrears.access.permissions` — roles, permissions and the one matrix between them;
* :mod:`arrears.access.service` — users and roles (add, grant, revoke), :func:`require`,
  :func:`visible_accounts_filter`;
* :mod:`arrears.access.credentials` — argon2 passwords with login throttling, hashed API keys,
  signed bearer tokens;
* :mod:`arrears.access.tables` — the tables behind them.
"""

"""The admin's pages over accounts: roles, suspensions and the audit log."""

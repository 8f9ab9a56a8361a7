"""The StackWarden server: REST API, storage, access control, jobs and the audit trail."""

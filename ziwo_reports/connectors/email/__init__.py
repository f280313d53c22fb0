"""E-mail as a delivery (type `email`): the report as an HTML message with a plain-text
alternative and the Excel or CSV files attached, over SMTP; call-level alerts and digests from
after_call workflows. Credentials live in prefect-email's Email Server Credentials block."""

"""The webhook connector: a computed report as Standard Webhooks messages (one per report, per row
or per chunk of rows), signed with whsec_ secrets, POSTed (or sent as a GET) to a URL (docs: README,
"Webhooks"). `delivery` registers the `webhook` delivery type."""

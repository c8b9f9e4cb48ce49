"""Signed webhooks (issue 17): pure core (events, filters, formats, signing, URL safety), delivery, storage, API."""

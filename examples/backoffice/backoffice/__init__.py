"""The backoffice example's project package: settings, URLs and the WSGI entry point."""

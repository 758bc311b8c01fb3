"""Accounts of the backoffice example: an email-login user model and the admin site."""

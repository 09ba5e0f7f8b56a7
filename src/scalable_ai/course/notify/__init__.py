"""Notifications (issue 13): the bell's inbox, e-mail through the course's SMTP server (each
notification, or a daily digest), per-person settings, and the worker that sends mail and
the 24-hour deadline reminders (``sai notify``; ``sai up`` runs it)."""

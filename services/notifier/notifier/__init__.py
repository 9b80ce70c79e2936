"""fraudstream notifier.

Sends an alert (SMTP or Amazon SNS) for every decision whose outcome is in the alert set
(default: block).
"""

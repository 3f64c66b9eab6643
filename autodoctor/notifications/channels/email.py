"""Email through Django's mail API (6.1 MAILERS: console by default; SMTP or an anymail
backend by setting; locmem in tests). Always `send(using=...)` an explicit mailer alias:
the implicit-connection path is deprecated in Django 6.1."""

from email.message import MIMEPart

from django.core.mail import EmailMessage

MAILER = "default"
CALENDAR_FILENAME = "appointment.ics"


def email_send(
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    calendar: tuple[str, bytes] | None = None,
) -> str:
    """Send one plain-text email, with `(method, ics bytes)` attached as appointment.ics.

    `message_id` is stable per outbox row, so if a crash makes us send the same row twice
    (at-least-once, see outbox.py) mail systems can recognise the duplicate.
    """
    message = EmailMessage(subject=subject, body=body, to=[to], headers={"Message-ID": message_id})
    if calendar is not None:
        method, ics = calendar
        part = MIMEPart()
        # Bytes, base64: the file keeps the CRLF line ends RFC 5545 requires. `method` in
        # the content type is what makes mail clients offer "add to calendar" and treat a
        # CANCEL as a removal (RFC 6047 §2.4).
        part.set_content(
            ics,
            maintype="text",
            subtype="calendar",
            params={"charset": "utf-8", "method": method},
            disposition="attachment",
            filename=CALENDAR_FILENAME,
        )
        message.attach(part)
    message.send(using=MAILER)
    return message_id

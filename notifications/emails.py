"""One email from one delivery: subject, plain text and HTML from the event's templates.

Everything the templates show was frozen in the event's context when it happened, so a retry or a
resend says the same thing. Nothing secret is ever in it: card brand and last four digits at most.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from . import conf


def message_id(delivery) -> str:
    """The same for every attempt of one delivery, so a receiving server can drop a duplicate."""
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)
    domain = sender[1].strip(" >") if len(sender) == 2 else "credits.example"
    return f"<notification-{delivery.pk}.{delivery.event_id}@{domain}>"


def template_context(delivery) -> dict:
    event = delivery.event
    site = conf.site_url()
    roles = delivery.role_labels
    return {
        **event.context,
        "event_label": event.label,
        "subject": event.summary,
        "recipient_name": delivery.recipient_name,
        "roles": roles,
        "roles_text": ", ".join(roles),
        "organization_name": event.context.get("organization_name") or event.organization.name,
        "link": f"{site}{event.link_path or '/'}",
        "message_center_link": f"{site}{reverse('notifications:message_center')}",
        "settings_link": f"{site}{reverse('notifications:settings')}",
        "is_support": event.audience == "support",
    }


def build_message(delivery) -> EmailMultiAlternatives:
    event_type = delivery.event.event_type
    if event_type is None:
        raise LookupError(f"No templates for notification kind {delivery.event.kind!r}.")
    context = template_context(delivery)
    text = render_to_string(event_type.template("body.txt"), context)
    html = render_to_string(event_type.template("body.html"), context)
    message = EmailMultiAlternatives(
        subject=delivery.event.summary,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.email],
        headers={
            "Message-ID": message_id(delivery),
            # RFC 3834: an automatic message; out-of-office replies should not answer it.
            "Auto-Submitted": "auto-generated",
            "X-Credits-Notification": delivery.event.kind,
        },
    )
    message.attach_alternative(html, "text/html")
    return message

from django.db import migrations, models
from django.db.models import Exists, F, OuterRef


def mark_published(apps, schema_editor):
    """Start-now sessions created before this migration went out to mechanics at
    creation: they have targeted/broadcast offers. Mark them offered then."""
    Session = apps.get_model("booking", "Session")
    Offer = apps.get_model("booking", "Offer")
    offered = Offer.objects.filter(session=OuterRef("pk"), kind__in=["targeted", "broadcast"])
    Session.objects.filter(Exists(offered), offered_at__isnull=True).update(
        offered_at=F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0002_overlap_guard_and_plans"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="offered_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Start-now sessions: when they went out to mechanics (once paid)",
                null=True,
            ),
        ),
        migrations.RunPython(mark_published, migrations.RunPython.noop),
    ]

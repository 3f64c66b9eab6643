# Indexes the analytics metrics need (issue 12): bookings by creation time, start-now
# requests by when they went out, booked time platform-wide by start.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0006_reservation_for_visits'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='reservation',
            index=models.Index(fields=['status', 'starts_at'], name='booking_res_status_76f9e6_idx'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['created_at'], name='booking_ses_created_200cb8_idx'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['mechanic', 'created_at'], name='booking_ses_mechani_de5a3f_idx'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['offered_at'], name='booking_ses_offered_84ed0a_idx'),
        ),
    ]

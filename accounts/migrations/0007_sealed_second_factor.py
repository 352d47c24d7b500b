"""Parley's own second-factor devices, with the authenticator secret and the backup codes sealed.

Moves every confirmed device out of django-otp's plugin tables (otp_totp, otp_static, which hold them in clear),
sealing as it goes, then deletes the clear rows. The plugin apps are no longer installed, so their tables are
read with SQL, if they exist at all (a new installation never had them). Unconfirmed (half-done) enrolments
are not moved. Sessions verified with an old device are asked for a code again. Going back drops the sealed
devices (people enrol again); it never writes a secret in clear.
"""

import accounts.models
import core.fields
import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


TOTP_COLUMNS = (
    "user_id, name, key, step, t0, digits, tolerance, drift, last_t,"
    " throttling_failure_timestamp, throttling_failure_count, created_at, last_used_at"
)
STATIC_COLUMNS = "id, user_id, name, throttling_failure_timestamp, throttling_failure_count, created_at, last_used_at"


def seal_existing_second_factors(apps, schema_editor) -> None:
    connection = schema_editor.connection
    tables = set(connection.introspection.table_names())
    authenticators = apps.get_model("accounts", "AuthenticatorDevice")
    backup_codes = apps.get_model("accounts", "BackupCodeDevice")
    with connection.cursor() as cursor:
        if "otp_totp_totpdevice" in tables:
            cursor.execute(f"SELECT {TOTP_COLUMNS} FROM otp_totp_totpdevice WHERE confirmed ORDER BY id")
            for user_id, name, key, step, t0, digits, tolerance, drift, last_t, failed_at, failures, created, used in (
                cursor.fetchall()
            ):
                device = authenticators.objects.create(
                    user_id=user_id, name=name, confirmed=True, secret=key, step=step, t0=t0, digits=digits,
                    tolerance=tolerance, drift=drift, last_t=last_t, throttling_failure_timestamp=failed_at,
                    throttling_failure_count=failures, last_used_at=used,
                )
                authenticators.objects.filter(pk=device.pk).update(created_at=created)  # auto_now_add otherwise
            cursor.execute("DELETE FROM otp_totp_totpdevice")
        if "otp_static_staticdevice" in tables:
            # One set of codes per person now: the codes of several confirmed sets (rare) are put together.
            cursor.execute(
                "SELECT d.user_id, t.token FROM otp_static_statictoken t"
                " JOIN otp_static_staticdevice d ON d.id = t.device_id WHERE d.confirmed ORDER BY d.id, t.id"
            )
            codes_of: dict[int, list[str]] = {}
            for user_id, token in cursor.fetchall():
                codes_of.setdefault(user_id, []).append(token)
            cursor.execute(f"SELECT {STATIC_COLUMNS} FROM otp_static_staticdevice WHERE confirmed ORDER BY id")
            for _, user_id, name, failed_at, failures, created, used in cursor.fetchall():
                if user_id not in codes_of:
                    continue  # every code used, or already moved with an earlier set of this person
                device = backup_codes.objects.create(
                    user_id=user_id, name=name, confirmed=True, codes=" ".join(codes_of.pop(user_id)),
                    throttling_failure_timestamp=failed_at, throttling_failure_count=failures, last_used_at=used,
                )
                backup_codes.objects.filter(pk=device.pk).update(created_at=created)
            cursor.execute("DELETE FROM otp_static_statictoken")
            cursor.execute("DELETE FROM otp_static_staticdevice")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_sign_in_security'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuthenticatorDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='The human-readable name of this device.', max_length=64)),
                ('confirmed', models.BooleanField(default=True, help_text='Is this device ready for use?')),
                ('throttling_failure_timestamp', models.DateTimeField(blank=True, default=None, help_text='A timestamp of the last failed verification attempt. Null if last attempt succeeded.', null=True)),
                ('throttling_failure_count', models.PositiveIntegerField(default=0, help_text='Number of successive failed attempts.')),
                ('created_at', models.DateTimeField(auto_now_add=True, help_text='The date and time when this device was initially created in the system.', null=True)),
                ('last_used_at', models.DateTimeField(blank=True, help_text='The most recent date and time this device was used.', null=True)),
                ('uid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('secret', core.fields.EncryptedTextField(default=accounts.models.new_authenticator_secret)),
                ('step', models.PositiveSmallIntegerField(default=30)),
                ('t0', models.BigIntegerField(default=0)),
                ('digits', models.PositiveSmallIntegerField(default=6)),
                ('tolerance', models.PositiveSmallIntegerField(default=1)),
                ('drift', models.SmallIntegerField(default=0)),
                ('last_t', models.BigIntegerField(default=-1)),
                ('user', models.ForeignKey(help_text='The user that this device belongs to.', on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'authenticator',
            },
        ),
        migrations.CreateModel(
            name='BackupCodeDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='The human-readable name of this device.', max_length=64)),
                ('confirmed', models.BooleanField(default=True, help_text='Is this device ready for use?')),
                ('throttling_failure_timestamp', models.DateTimeField(blank=True, default=None, help_text='A timestamp of the last failed verification attempt. Null if last attempt succeeded.', null=True)),
                ('throttling_failure_count', models.PositiveIntegerField(default=0, help_text='Number of successive failed attempts.')),
                ('created_at', models.DateTimeField(auto_now_add=True, help_text='The date and time when this device was initially created in the system.', null=True)),
                ('last_used_at', models.DateTimeField(blank=True, help_text='The most recent date and time this device was used.', null=True)),
                ('uid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('codes', core.fields.EncryptedTextField()),
                ('user', models.ForeignKey(help_text='The user that this device belongs to.', on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'backup codes',
                'verbose_name_plural': 'backup codes',
                'constraints': [models.UniqueConstraint(fields=('user',), name='backup_codes_one_set_per_user')],
            },
        ),
        migrations.RunPython(seal_existing_second_factors, migrations.RunPython.noop),
    ]

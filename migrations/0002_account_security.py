from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.models.token import Purpose
from app.models.user import Role
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('role', fields.CharEnumField(description='admin: admin\nuser: user\nguest: guest', enum_type=Role, max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_tokens', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('user_id', fields.UUIDField(null=True, db_index=True)),
                ('actor_id', fields.UUIDField(null=True)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('ip', fields.CharField(null=True, max_length=45)),
                ('user_agent', fields.CharField(null=True, max_length=512)),
                ('detail', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who did what, when, from where. Plain ids, not foreign keys: the trail outlives the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='recovery_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(db_index=True, max_length=64)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recovery_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single-use MFA recovery code, stored as sha256.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='OneTimeToken',
            name='purpose',
            field=fields.CharEnumField(description='password_reset: password_reset\nemail_verification: email_verification\nmagic_link: magic_link\ninvite: invite', enum_type=Purpose, max_length=32),
        ),
        ops.AddField(
            model_name='User',
            name='tfa_last_step',
            field=fields.BigIntField(null=True),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_account_security')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Identity',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharField(max_length=64)),
                ('subject', fields.CharField(max_length=255)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'identities', 'app': 'models', 'unique_together': (('provider', 'subject'),), 'pk_attr': 'id', 'table_description': 'A way in through a social provider: unique per (provider, subject).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PhoneCode',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('phone', fields.CharField(db_index=True, max_length=16)),
                ('code_hash', fields.CharField(max_length=64)),
                ('attempts', fields.IntField(default=0)),
                ('ip', fields.CharField(null=True, db_index=True, max_length=45)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'phone_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A texted 6-digit code: keyed hash only, 10 minutes, 5 tries, single use.'},
            bases=['Model'],
        ),
    ]

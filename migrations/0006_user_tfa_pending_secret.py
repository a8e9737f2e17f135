from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_session_reauthenticated_at')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='tfa_pending_secret',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]

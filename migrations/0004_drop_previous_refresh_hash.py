from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0003_phone_and_identities')]

    initial = False

    operations = [
        ops.RemoveField(model_name='Session', name='previous_hash'),
    ]

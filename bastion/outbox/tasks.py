from django.tasks import task


@task()
def send_outbox_message(message_id: int) -> str:
    raise NotImplementedError

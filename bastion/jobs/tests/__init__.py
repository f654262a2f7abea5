# The apps whose tables transactional tests of background work touch (and flush afterwards).
JOB_APPS = ["django_tasks_db", "bastion.jobs", "bastion.outbox"]

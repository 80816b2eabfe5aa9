"""Background work: the daily cycle's partitions as Celery tasks (broker Redis or RabbitMQ)."""

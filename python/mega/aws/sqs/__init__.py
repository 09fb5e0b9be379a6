"""Amazon SQS: :mod:`mega.aws.sqs.publish` and :mod:`mega.aws.sqs.subscribe`."""

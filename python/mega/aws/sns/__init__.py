"""Amazon SNS: ``from mega.aws.sns import SnsPublisher`` (also ``mega.aws.sns.publish.SnsPublisher``)."""

from .publish import SnsPublisher

__all__ = ["SnsPublisher"]

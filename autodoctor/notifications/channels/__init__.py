"""Delivery channels: email through Django's mailers, SMS behind `SmsSender`."""

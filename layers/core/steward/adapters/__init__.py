"""Data access: the only modules that import boto3. They turn ClientError into domain errors."""

"""fraudstream on AWS: one CDK stack per environment, one construct per component."""

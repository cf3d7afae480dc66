"""The standing reliability suite (issue 13): crashes, concurrency, faults, corruption,
names and paths, secrets, on the local folder, S3 (moto) and Azure (Azurite)."""

"""The official Python client's way to submit results, as a benchmark peer: csv.DictReader rows into a list of
dicts, one json.dumps, one requests.post with the token. Credentials come from KALEIDOSCOPE_API_* variables."""
import csv
import json
import os
import sys

import requests

path, operation_id, file_id = sys.argv[1:4]
base = os.environ["KALEIDOSCOPE_API_URL"].rstrip("/")
token = requests.post(f"{base}/auth/oauth/token", data={
    "grant_type": "client_credentials",
    "client_id": os.environ["KALEIDOSCOPE_API_CLIENT_ID"],
    "client_secret": os.environ["KALEIDOSCOPE_API_CLIENT_SECRET"],
}).json()["access_token"]
with open(path, newline="", encoding="utf-8") as f:
    records = [{"record_id": row["record_id"], "status": row["status"],
                "data": {"id": row["id"], "name": row["name"], "smiles": row["smiles"]}}
               for row in csv.DictReader(f)]
body = json.dumps({"status": "success", "records": records})
response = requests.post(f"{base}/operations/{operation_id}/register/{file_id}/results", data=body,
                         headers={"X-Kal-Authorization": f"Bearer {token}", "Content-Type": "application/json"})
response.raise_for_status()

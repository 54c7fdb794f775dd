import os

TOKEN = os.environ["GITHUB_TOKEN"]

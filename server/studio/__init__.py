"""The studio: the creator's production layer over the job layer (projects, shots, reviews, handoff).

Knows nothing of torch or of how jobs run: takes are ordinary video jobs, linked to their shot by the
``studio_shot`` metadata label; reviews, shots and projects are rows in the jobs database.
"""

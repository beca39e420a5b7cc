"""What runs inside a worker, whichever process or actor hosts it: building the generator, one job
from spec to files, the post stage, and a context-parallel rank's command loop. The process modules
(``worker``, ``group``, ``ray_worker``, ``inprocess``) own processes and channels and call into here;
nothing here knows which transport carries its messages. Torch-free at import."""

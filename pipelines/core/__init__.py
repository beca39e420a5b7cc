"""The torch-free core of the model layer: catalog types, generation specs and their validation,
input images, LoRA checks, the memory planner, errors and hashing.

Nothing here imports torch or diffusers, nor anything in ``pipelines`` outside this folder: the API
server validates and admits requests with this package alone.
"""

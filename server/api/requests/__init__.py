"""Request bodies, one package: the field types with their limits and docs (``fields``), the bases
every shape extends (``base``), and the shapes of each group of routes. Rendering what the API
returns lives in ``server.api.render``."""

from server.api.requests.audio import AudioFields
from server.api.requests.base import CommonFields, PromptFields, PublishedSettingsFields, RequestModel
from server.api.requests.create import NativeRequest, OpenAIVideoRequest
from server.api.requests.edits import VideoEditRequest
from server.api.requests.fields import MAX_N
from server.api.requests.studio import ProjectCreate, ProjectFields, ReviewRequest, ShotFields, TakesRequest
from server.api.requests.workflow import ExtendRequest, RemixRequest, RepostRequest

__all__ = [
    "MAX_N", "AudioFields", "CommonFields", "ExtendRequest", "NativeRequest", "OpenAIVideoRequest", "ProjectCreate",
    "ProjectFields", "PromptFields", "PublishedSettingsFields", "RemixRequest", "RepostRequest", "RequestModel",
    "ReviewRequest", "ShotFields", "TakesRequest", "VideoEditRequest",
]

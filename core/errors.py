"""The project's own exceptions.

Every error a user can act on derives from ``AssistantError``; its message says what was
wrong and what to do. The CLI prints it and exits non-zero, the UI shows it as text.
"""


class AssistantError(Exception):
    """A problem the user can fix (bad input, missing artifact, bad configuration)."""


class VideoError(AssistantError):
    """A file that cannot be decoded as a video clip."""


class VideoTooLargeError(VideoError):
    """A video above the configured size or duration limit."""


class DatasetError(AssistantError):
    """A dataset folder, split list or manifest that cannot be used."""


class DownloadError(DatasetError):
    """One download source failed (unreachable, interrupted, wrong size or checksum); the next mirror may work."""


class ArtifactError(AssistantError):
    """A checkpoint, index or cache that is missing, corrupt or built for something else."""


class KnowledgeBaseError(AssistantError):
    """A knowledge-base file or store problem (bad front matter, bad file name)."""


class LLMError(AssistantError):
    """The language-model backend failed or is misconfigured."""


class DistributedError(AssistantError):
    """A multi-process run lost a rank (it died, hung or timed out); the run stops instead of waiting."""

"""Getting a dataset onto disk: resumable HTTP downloads with mirrors, archive extraction, UCF101.

The flow reads top to bottom: ``http_fetch`` (one URL to one file, resumed and checked) ->
``mirrors`` (the first of several URLs that works) -> ``archives`` (unpacked into a staging folder
renamed into place last) -> ``ucf101`` (the official archives turned into the tree ``prepare``
detects) and ``source`` (what ``setup --source`` accepts: a folder, ``ucf101`` or an archive URL).
"""

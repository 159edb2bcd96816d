"""The planner in a web browser, on Slicer's own web stack (trame-slicer): ``posteo serve``.

Like the Slicer module, this package is a thin front end: every planning step is a call on the Lib's
``PlanningSession`` (the same MRML scene classes, the same checks).  ``state`` holds what the page shows,
``placement`` turns clicks in the views into screws, lesion seeds and cement points, ``planner`` the actions,
``ui`` the page, ``app`` the server.  Needs the ``web`` extra (``pip install -e ".[web]"``).
"""

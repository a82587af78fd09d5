"""The admin console (role `admin`): users, moderation and operations; every action is audited."""

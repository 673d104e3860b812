"""Everything platform-neutral the chat platforms share: the effect runner, guide moves, key intake, follow-up."""

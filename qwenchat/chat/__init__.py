"""The chat's core: one turn (`engine.ChatEngine`), the events it yields (`events`), who pays and the
limits every paid request passes (`spending`), and saving that never breaks the chat (`saving`)."""

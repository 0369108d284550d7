"""Tasks: the work a person does (call a customer, check a dispute), with an owner, a due date
and a status. The rules' task actions become tasks (tasks.store.adopt_task_actions)."""

-- The first bytes of the followed file (up to FILE_HEAD, monitor_intake.c),
-- kept with its offset. A file truncated and written again past the offset
-- while the monitor was stopped (copytruncate) keeps its inode and is longer
-- than the offset: only its first bytes tell it from the file that was
-- read. They were kept in memory only, so a restarted monitor read on from
-- the old offset, in the middle of a line, and lost the lines before it
-- (test_r16_1_restart_sees_the_file_rewritten_while_stopped). Rows from
-- before have no head: nothing to compare, resumed as before.
ALTER TABLE eve_files ADD COLUMN head bytea NOT NULL DEFAULT '\x';

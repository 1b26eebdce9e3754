"""The interop checks, in the order they run: each is a function of the run
context that raises CheckFailed (or any exception) on failure and may return
a short detail string."""

import checks_data
import checks_fs
import checks_net

ALL = checks_fs.ALL + [
    ("stor_retr_empty", checks_data.stor_retr_empty),
    ("stor_retr_one_byte", checks_data.stor_retr_one_byte),
    ("stor_retr_big", checks_data.stor_retr_big),
    ("rest_resume_retr", checks_data.rest_resume_retr),
    ("rest_resume_stor", checks_data.rest_resume_stor),
    ("abor_mid_retr", checks_data.abor_mid_retr),
    ("abor_mid_retr_telnet", checks_data.abor_mid_retr_telnet),
    ("quota_refusal", checks_data.quota_refusal),
] + checks_net.ALL

from odoo import models

STATEMENT = "collections_proactive.report_customer_statement"


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _run_wkhtmltopdf(
        self,
        bodies,
        report_ref=False,
        header=None,
        footer=None,
        landscape=False,
        specific_paperformat_args=None,
        set_viewport_size=False,
    ):
        # The customer statement runs no script but the layout's header and
        # footer one, called on load: it need not wait for scripts after the
        # load (``report.print_delay``, 1 s by default), half of the 2 s a
        # statement of thousands of lines may take. Other reports keep it.
        report = self
        if report_ref and self._get_report(report_ref).report_name == STATEMENT:
            report = self.with_context(collections_no_print_delay=True)
        return super(IrActionsReport, report)._run_wkhtmltopdf(
            bodies,
            report_ref=report_ref,
            header=header,
            footer=footer,
            landscape=landscape,
            specific_paperformat_args=specific_paperformat_args,
            set_viewport_size=set_viewport_size,
        )

    def _build_wkhtmltopdf_args(
        self,
        paperformat_id,
        landscape,
        specific_paperformat_args=None,
        set_viewport_size=False,
    ):
        args = super()._build_wkhtmltopdf_args(
            paperformat_id,
            landscape,
            specific_paperformat_args=specific_paperformat_args,
            set_viewport_size=set_viewport_size,
        )
        if self.env.context.get("collections_no_print_delay"):
            args[args.index("--javascript-delay") + 1] = "0"
        return args

import { KanbanRenderer } from "@web/views/kanban/kanban_renderer";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { onWillStart, useState } from "@odoo/owl";

/**
 * The follow-up board: the month's targets of the collectors (a collector
 * sees its own) against what they reached, above the stages.
 */
export class CollectionBoardRenderer extends KanbanRenderer {
    static template = "collections_proactive.CollectionBoardRenderer";

    setup() {
        super.setup();
        this.orm = useService("orm");
        this.targets = useState({ rows: [] });
        onWillStart(async () => {
            this.targets.rows = await this.orm.call("collection.target", "board_targets", []);
        });
    }
}

export const collectionBoardView = {
    ...kanbanView,
    Renderer: CollectionBoardRenderer,
};

registry.category("views").add("collections_board", collectionBoardView);

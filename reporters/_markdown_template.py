# Generated from templates/pr-comment.md.j2 by `python -m opsgrade.reporters.markdown`: do not
# edit. The template compiled by Jinja2 ahead of time (reporters/markdown.py says why).
# ruff: noqa
# fmt: off
# mypy: ignore-errors
SOURCE_SHA256 = '9e288c41e61a13132b3a5e5c9b0600c80e6650aea74a928484691f73af88316f'
BC_VERSION = 5
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'pr-comment.md.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_marker = resolve('marker')
    l_0_view = resolve('view')
    l_0_rows = resolve('rows')
    l_0_rows_hidden = resolve('rows_hidden')
    l_0_new = resolve('new')
    l_0_new_hidden = resolve('new_hidden')
    l_0_fixed = resolve('fixed')
    l_0_fixed_hidden = resolve('fixed_hidden')
    l_0_blockers = resolve('blockers')
    l_0_blockers_hidden = resolve('blockers_hidden')
    l_0_config_errors = resolve('config_errors')
    l_0_config_errors_hidden = resolve('config_errors_hidden')
    l_0_details = resolve('details')
    l_0_omitted = resolve('omitted')
    l_0_version = resolve('version')
    l_0_finding = l_0_more = missing
    try:
        t_1 = environment.filters['code']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'code' found.")
    try:
        t_2 = environment.filters['inline']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'inline' found.")
    try:
        t_3 = environment.filters['length']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No filter named 'length' found.")
    try:
        t_4 = environment.filters['md']
    except KeyError:
        @internalcode
        def t_4(*unused):
            raise TemplateRuntimeError("No filter named 'md' found.")
    pass
    def macro(l_1_item):
        t_5 = []
        if l_1_item is missing:
            l_1_item = undefined("parameter 'item' was not provided", name='item')
        pass
        t_5.extend((
            '- ',
            escape(environment.finalize(environment.getattr(l_1_item, 'mark'))),
            ' **',
            escape(environment.finalize(t_4(environment.getattr(l_1_item, 'rule'), 80))),
            '**',
        ))
        if environment.getattr(l_1_item, 'title'):
            pass
            t_5.extend((
                ' ',
                escape(environment.finalize(t_2(environment.getattr(l_1_item, 'title'), 200))),
            ))
        if environment.getattr(l_1_item, 'service'):
            pass
            t_5.extend((
                ' · ',
                escape(environment.finalize(t_4(environment.getattr(l_1_item, 'service'), 120))),
            ))
        for l_2_where in environment.getattr(l_1_item, 'locations'):
            _loop_vars = {}
            pass
            t_5.extend((
                ' · ',
                escape(environment.finalize(t_1(l_2_where, 300))),
            ))
        l_2_where = missing
        if environment.getattr(l_1_item, 'more_locations'):
            pass
            t_5.extend((
                ' and ',
                escape(environment.finalize(environment.getattr(l_1_item, 'more_locations'))),
                ' more',
            ))
        t_5.append(
            '\n',
        )
        if environment.getattr(l_1_item, 'message'):
            pass
            t_5.extend((
                '  ',
                escape(environment.finalize(t_2(environment.getattr(l_1_item, 'message'), 400))),
                '\n',
            ))
        if environment.getattr(l_1_item, 'waiver'):
            pass
            t_5.extend((
                '  ',
                escape(environment.finalize(t_4(environment.getattr(l_1_item, 'waiver'), 300))),
                '\n',
            ))
        if environment.getattr(l_1_item, 'fix'):
            pass
            t_5.extend((
                '  Fix: ',
                escape(environment.finalize(t_2(environment.getattr(l_1_item, 'fix'), 300))),
                '\n',
            ))
        return concat(t_5)
    context.exported_vars.add('finding')
    context.vars['finding'] = l_0_finding = Macro(environment, macro, 'finding', ('item',), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_hidden):
        t_6 = []
        if l_1_hidden is missing:
            l_1_hidden = undefined("parameter 'hidden' was not provided", name='hidden')
        pass
        if l_1_hidden:
            pass
            t_6.extend((
                '- … and ',
                escape(environment.finalize(l_1_hidden)),
                ' more\n',
            ))
        return concat(t_6)
    context.exported_vars.add('more')
    context.vars['more'] = l_0_more = Macro(environment, macro, 'more', ('hidden',), False, False, False, context.eval_ctx.autoescape)
    yield escape(environment.finalize((undefined(name='marker') if l_0_marker is missing else l_0_marker)))
    yield '\n### '
    yield escape(environment.finalize(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'heading')))
    yield '\n\n'
    for l_1_reason in environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'reasons'):
        _loop_vars = {}
        pass
        yield '- '
        yield escape(environment.finalize(t_4(l_1_reason, 300)))
        yield '\n'
    l_1_reason = missing
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'reasons'):
        pass
        yield '\n'
    yield '**'
    yield escape(environment.finalize(t_4(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'repository'), 120)))
    yield '**'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'revision'):
        pass
        yield ' at '
        yield escape(environment.finalize(t_1(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'revision'), 60)))
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'base'):
        pass
        yield ' · compared with '
        yield escape(environment.finalize(t_1(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'base'), 60)))
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'required'):
        pass
        yield ' · required level: **'
        yield escape(environment.finalize(t_4(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'required'), 60)))
        yield '**'
    yield ' · '
    yield escape(environment.finalize(t_4(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'summary'), 300)))
    yield '\n\n'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'config_changed'):
        pass
        yield "> [!WARNING]\n> This change edits `.opsgrade/`: it is judged by the base revision's configuration and packs.\n\n"
    yield '| Service | Owner | Level |'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'compared'):
        pass
        yield ' Change |'
    yield ' Score |\n| --- | --- | --- |'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'compared'):
        pass
        yield ' --- |'
    yield ' ---: |\n'
    for l_1_row in (undefined(name='rows') if l_0_rows is missing else l_0_rows):
        _loop_vars = {}
        pass
        yield '| '
        yield escape(environment.finalize(t_4(environment.getattr(l_1_row, 'name'), 120)))
        yield ' | '
        yield escape(environment.finalize(t_4(environment.getattr(l_1_row, 'owner'), 120)))
        yield ' | '
        yield escape(environment.finalize(t_4(environment.getattr(l_1_row, 'level'), 60)))
        yield ' |'
        if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'compared'):
            pass
            yield ' '
            yield escape(environment.finalize(t_4(environment.getattr(l_1_row, 'change'), 140)))
            yield ' |'
        yield ' '
        yield escape(environment.finalize(t_4(environment.getattr(l_1_row, 'score'), 10)))
        yield ' |\n'
    l_1_row = missing
    if (undefined(name='rows_hidden') if l_0_rows_hidden is missing else l_0_rows_hidden):
        pass
        yield '\n… and '
        yield escape(environment.finalize((undefined(name='rows_hidden') if l_0_rows_hidden is missing else l_0_rows_hidden)))
        yield ' more services.\n'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'compared'):
        pass
        yield '\n#### New failures ('
        yield escape(environment.finalize(t_3(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'new'))))
        yield ')\n\n'
        t_7 = 1
        for l_1_item in (undefined(name='new') if l_0_new is missing else l_0_new):
            _loop_vars = {}
            pass
            yield escape(environment.finalize(context.call((undefined(name='finding') if l_0_finding is missing else l_0_finding), l_1_item, _loop_vars=_loop_vars)))
            t_7 = 0
        l_1_item = missing
        if t_7:
            pass
            yield 'None.\n'
        yield escape(environment.finalize(context.call((undefined(name='more') if l_0_more is missing else l_0_more), (undefined(name='new_hidden') if l_0_new_hidden is missing else l_0_new_hidden))))
        if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'fixed'):
            pass
            yield '\n#### Fixed ('
            yield escape(environment.finalize(t_3(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'fixed'))))
            yield ')\n\n'
            for l_1_item in (undefined(name='fixed') if l_0_fixed is missing else l_0_fixed):
                _loop_vars = {}
                pass
                yield escape(environment.finalize(context.call((undefined(name='finding') if l_0_finding is missing else l_0_finding), l_1_item, _loop_vars=_loop_vars)))
            l_1_item = missing
            yield escape(environment.finalize(context.call((undefined(name='more') if l_0_more is missing else l_0_more), (undefined(name='fixed_hidden') if l_0_fixed_hidden is missing else l_0_fixed_hidden))))
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'blockers'):
        pass
        yield '\n#### To reach the next level\n\n'
        for l_1_group in (undefined(name='blockers') if l_0_blockers is missing else l_0_blockers):
            _loop_vars = {}
            pass
            yield '**'
            yield escape(environment.finalize(t_4(environment.getattr(l_1_group, 'service'), 120)))
            yield '**: '
            yield escape(environment.finalize(t_4(environment.getattr(l_1_group, 'level'), 60)))
            yield ' → '
            yield escape(environment.finalize(t_4(environment.getattr(l_1_group, 'next_level'), 60)))
            yield '\n\n'
            for l_2_item in environment.getattr(l_1_group, 'items'):
                _loop_vars = {}
                pass
                yield escape(environment.finalize(context.call((undefined(name='finding') if l_0_finding is missing else l_0_finding), l_2_item, _loop_vars=_loop_vars)))
            l_2_item = missing
            yield '\n'
        l_1_group = missing
        if (undefined(name='blockers_hidden') if l_0_blockers_hidden is missing else l_0_blockers_hidden):
            pass
            yield '… and '
            yield escape(environment.finalize((undefined(name='blockers_hidden') if l_0_blockers_hidden is missing else l_0_blockers_hidden)))
            yield ' more.\n\n'
    if environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'config_errors'):
        pass
        yield '\n#### Configuration errors ('
        yield escape(environment.finalize(t_3(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'config_errors'))))
        yield ')\n\n'
        for l_1_note in (undefined(name='config_errors') if l_0_config_errors is missing else l_0_config_errors):
            _loop_vars = {}
            pass
            yield '- '
            yield escape(environment.finalize(t_1(environment.getattr(l_1_note, 'where'), 300)))
            yield ' '
            yield escape(environment.finalize(t_2(environment.getattr(l_1_note, 'message'), 400)))
            yield '\n'
        l_1_note = missing
        yield escape(environment.finalize(context.call((undefined(name='more') if l_0_more is missing else l_0_more), (undefined(name='config_errors_hidden') if l_0_config_errors_hidden is missing else l_0_config_errors_hidden))))
    for l_1_section in (undefined(name='details') if l_0_details is missing else l_0_details):
        _loop_vars = {}
        pass
        yield '\n<details><summary>'
        yield escape(environment.finalize(environment.getattr(l_1_section, 'title')))
        yield ' ('
        yield escape(environment.finalize(environment.getattr(l_1_section, 'count')))
        yield ')</summary>\n\n'
        for l_2_item in environment.getitem(l_1_section, 'items'):
            _loop_vars = {}
            pass
            yield escape(environment.finalize(context.call((undefined(name='finding') if l_0_finding is missing else l_0_finding), l_2_item, _loop_vars=_loop_vars)))
        l_2_item = missing
        for l_2_note in environment.getattr(l_1_section, 'notes'):
            _loop_vars = {}
            pass
            yield '- '
            yield escape(environment.finalize(t_1(environment.getattr(l_2_note, 'where'), 300)))
            yield ' '
            yield escape(environment.finalize(t_2(environment.getattr(l_2_note, 'message'), 400)))
            yield '\n'
        l_2_note = missing
        yield escape(environment.finalize(context.call((undefined(name='more') if l_0_more is missing else l_0_more), environment.getattr(l_1_section, 'hidden'), _loop_vars=_loop_vars)))
        yield '\n</details>\n'
    l_1_section = missing
    if (undefined(name='omitted') if l_0_omitted is missing else l_0_omitted):
        pass
        yield "\nLeft out to keep this comment within GitHub's size limit: "
        l_1_loop = missing
        for (l_1_count, l_1_title), l_1_loop in LoopContext((undefined(name='omitted') if l_0_omitted is missing else l_0_omitted), undefined):
            _loop_vars = {}
            pass
            yield escape(environment.finalize(l_1_count))
            yield ' '
            yield escape(environment.finalize(l_1_title))
            if (not environment.getattr(l_1_loop, 'last')):
                pass
                yield ', '
        l_1_loop = l_1_count = l_1_title = missing
        yield '. The job log has them all.\n'
    yield '\n---\n<sub>opsgrade '
    yield escape(environment.finalize(t_4((undefined(name='version') if l_0_version is missing else l_0_version), 40)))
    yield ' · '
    l_1_loop = missing
    for l_1_pack, l_1_loop in LoopContext(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'packs'), undefined):
        _loop_vars = {}
        pass
        yield escape(environment.finalize(t_4(l_1_pack, 120)))
        if (not environment.getattr(l_1_loop, 'last')):
            pass
            yield ', '
    l_1_loop = l_1_pack = missing
    yield ' · evaluated on '
    yield escape(environment.finalize(t_4(environment.getattr((undefined(name='view') if l_0_view is missing else l_0_view), 'evaluated_on'), 20)))
    yield '</sub>\n'

blocks = {}
debug_info = '9=51&10=58&11=93&12=97&14=100&15=104&17=107&18=111&21=117&22=122&23=126&26=132&27=134&29=136&30=140&32=143&35=147&37=165&42=169&43=173&44=177&45=181&47=196&49=199&51=201&53=204&55=207&56=210&60=216&61=217&63=220&65=222&66=225&68=227&71=228&75=231&76=235&78=241&79=244&83=248&84=251&88=253&90=256&92=258&93=262&95=267&97=268&99=272&101=276&102=279&104=281&105=285&107=290&110=293&112=297&116=309'
